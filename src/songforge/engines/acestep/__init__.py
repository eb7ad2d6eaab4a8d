"""The acestep engine: ACE-Step 1.5 through diffusers' `AceStepPipeline`, with the embedded engine as
its conductor.

- `weights`: what a checkpoint directory must hold, checked without importing torch (startup, readiness).
- `pipeline`: the one loader (local files only, bf16 on CUDA, fp32 on CPU, optional CPU offload) and the
  per-process cache that keeps a loaded pipeline warm.
- `engine`: `AceStepEngine`, the `Engine` for the worker: caption, lyrics, key, tempo, length and seed
  mapped onto the pipeline; chords and MIDI through a guide the embedded engine renders and ACE-Step's
  `cover` task re-renders; stems from the separation engine.
- `extend`: an extension of a stored work, ACE-Step's `repaint` task after the splice with the source
  kept sample for sample before it (the worker's `extender_for("acestep")`).

Nothing here is imported by the registry until a job asks for the engine, so torch and diffusers load
only in the processes that generate with it.
"""
