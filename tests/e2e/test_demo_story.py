"""The Quick start's demo story, posted as ``make run`` posts it: every fact is accepted
under the authority rules and the always-on partner registry."""

from __future__ import annotations

from services.partners.demo import post_story, story
from services.runtime import Runtime


async def test_the_demo_story_is_accepted_from_start_to_end(runtime: Runtime) -> None:
    receipts = await post_story(runtime.nats_url, runtime.settings.stream_inbound)
    expected = len(list(story()))
    assert len(receipts) == expected > 7  # the referral loop, then the worklists' story
    assert [r.status for r in receipts] == ["accepted"] * expected, [
        r.summary for r in receipts if r.status != "accepted"]
