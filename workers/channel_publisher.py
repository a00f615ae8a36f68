"""The chat-channel publisher: the final video posted into a configured channel.

Any connected platform works, through the same REST senders workers use for progress (a
platform's size limit turns the upload into a signed link, as for previews). Exactly-once is
the ledger's job (`workers.publish_ledger`); this class only delivers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from adapters.outbox import is_platform, sender_for
from bot import replies
from bot.actions import Preview
from bot.events import ReplyTarget
from pipeline.errors import PermanentError, TransientError
from pipeline.publish import PublishRequest, PublishResult
from policy import PublishTarget


class ChatChannelPublisher:
    """Posts approved videos into one channel of one platform."""

    def __init__(self, name: str, spec: PublishTarget, connection: redis.Redis) -> None:
        if not is_platform(spec.adapter) or not spec.channel:
            raise PermanentError(replies.unknown_chat_target(name))
        self.name = name
        self._spec = spec
        self._redis = connection

    def publish(self, request: PublishRequest) -> PublishResult:
        target = self.target_for(request.workspace)
        caption = replies.channel_caption(request.title, request.approved_by)
        if not request.video.is_file():
            raise PermanentError(replies.VIDEO_MISSING)
        try:
            sender_for(target, self._redis).send(
                Preview(target=target, path=str(request.video), caption=caption)
            )
        except PermanentError:
            raise
        except Exception as error:  # the platform or network failed; the ledger retries
            raise TransientError(replies.channel_unreachable(target.adapter, error)) from None
        return PublishResult(
            target=self.name,
            location=replies.channel_location(target.adapter, target.channel),
            published_at=datetime.now(UTC),
        )

    def target_for(self, workspace: str) -> ReplyTarget:
        spec = self._spec
        assert spec.adapter is not None
        assert spec.channel is not None
        return ReplyTarget(
            adapter=spec.adapter,
            workspace=spec.workspace or workspace,
            channel=spec.channel,
            thread=spec.thread,
        )
