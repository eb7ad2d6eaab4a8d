"""The acestep engine: ACE-Step 1.5 through diffusers' `AceStepPipeline`, with the embedded engine as
its conductor.

- `weights`: what a checkpoint directory must hold, checked without importing torch (startup, readiness).
- `pipeline`: the one loader (local files only, bf16 on CUDA, fp32 on CPU, optional CPU offload) and the
  per-process cache that keeps a loaded pipeline warm.
- `engine`: `AceStepEngine`, the `Engine` for the worker: caption, lyrics, key, tempo, length and seed
  mapped onto the pipeline; chords and MIDI through a guide the embedded engine renders and ACE-Step's
  `cover` task re-renders; stems from the separation engine.

Nothing here is imported by the registry until a job asks for the engine, so torch and diffusers load
only in the processes that generate with it.
"""
