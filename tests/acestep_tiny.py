"""A tiny random ACE-Step 1.5 checkpoint in diffusers format, built in a test, never downloaded.

The way diffusers tests `AceStepPipeline` (tests/pipelines/ace_step/test_ace_step.py upstream): a small
`AceStepTransformer1DModel`, `AceStepConditionEncoder`, `AutoencoderOobleck` and a Qwen3 text encoder
from tiny configs, plus the audio tokenizer and detokenizer the cover task needs. The tokenizer is built
here (a byte-level BPE with no merges: every byte a token) instead of Qwen's, which would be a download.

The VAE's rate is 1600 Hz with a hop of 64, so its latent rate is ACE-Step's 25 per second and a few
seconds of audio stay a few hundred samples per latent frame: seconds of CPU per test. The audio is
noise; tests check shapes, lengths, rates and records, never music.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_SAMPLE_RATE = 1600
HIDDEN = 32


def _tokenizer() -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    vocab["<|endoftext|>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def build_tiny_pipeline(*, cover: bool = True, turbo: bool = True, seed: int = 0) -> object:
    import torch
    from diffusers import AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
        AceStepPipeline,
    )
    from transformers import Qwen3Config, Qwen3Model

    tokenizer = _tokenizer()
    attn = {"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "sliding_window": 16}
    torch.manual_seed(seed)
    transformer = AceStepTransformer1DModel(
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        in_channels=24,
        audio_acoustic_hidden_dim=8,
        patch_size=2,
        rope_theta=10000.0,
        is_turbo=turbo,
        model_version="turbo" if turbo else "sft",
        **attn,
    )
    text_encoder = Qwen3Model(
        Qwen3Config(
            hidden_size=HIDDEN,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            vocab_size=len(tokenizer),  # type: ignore[arg-type]
            max_position_embeddings=4096,
        )
    )
    condition_encoder = AceStepConditionEncoder(
        hidden_size=HIDDEN,
        intermediate_size=64,
        text_hidden_dim=HIDDEN,
        timbre_hidden_dim=8,
        num_lyric_encoder_hidden_layers=1,
        num_timbre_encoder_hidden_layers=1,
        rope_theta=10000.0,
        **attn,
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=16,
        downsampling_ratios=[4, 16],
        decoder_channels=3,
        decoder_input_channels=8,
        audio_channels=2,
        channel_multiples=[2, 4],
        sampling_rate=TINY_SAMPLE_RATE,
    )
    extra = {}
    if cover:
        common = {"hidden_size": HIDDEN, "intermediate_size": 64, "audio_acoustic_hidden_dim": 8}
        extra["audio_tokenizer"] = AceStepAudioTokenizer(
            **common, pool_window_size=5, fsq_dim=HIDDEN, num_attention_pooler_hidden_layers=1, **attn
        )
        extra["audio_token_detokenizer"] = AceStepAudioTokenDetokenizer(
            **common, pool_window_size=5, num_attention_pooler_hidden_layers=1, **attn
        )
    return AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
        **extra,
    )


def save_tiny_checkpoint(path: Path, *, cover: bool = True, turbo: bool = True) -> Path:
    """A diffusers-format checkpoint directory at `path` (created), as `save_pretrained` writes it."""
    pipe = build_tiny_pipeline(cover=cover, turbo=turbo)
    path.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(path))  # type: ignore[attr-defined]
    return path


class Recorder:
    """Stands in front of the (third-party) pipeline and keeps each call's arguments."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.pipe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)
