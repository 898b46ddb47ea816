"""The reconciliation plan over a real folder bucket: a ledger as the API writes it, and a lake
written by the real `LakeWriter` (no broker)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from processors import keys, ledger
from processors.keys import media_key
from processors.lake.query import Lake
from processors.reconcile import Cooldown, days, plan
from processors.storage import LocalStore
from processors.synthetic import lake as syn
from schemas import topics
from schemas.events import Generation, MediaGenerated, MediaUploaded
from tests.lake_writes import Sink

NOW = datetime(2026, 3, 10, 0, 30, tzinfo=UTC)  # just after midnight: the window spans days
HOUR_AGO = NOW - timedelta(hours=1)


def accept(
    store: LocalStore, event: MediaUploaded | MediaGenerated, *, record: bool = True
) -> None:
    """What the API leaves in the ledger: the bytes, then the event record."""
    store.put_bytes(media_key(event.media_id), b"media bytes")
    if record:
        store.put_bytes(ledger.event_key(event.media_id), event.to_bytes())


def generated(when: datetime, counter: int) -> MediaGenerated:
    up = syn.uploaded(when, counter=counter)
    fields = up.model_dump(by_alias=True, exclude={"schema_id"})
    gen = Generation(prompt="a red can on a beach", model="imagen-x", seed=7)
    return MediaGenerated.model_validate({**fields, "generation": gen})


def reemitted(store: LocalStore, older_than_s: float = 300, lookback_days: int = 7) -> set[UUID]:
    lake = Lake(store)
    found = plan(store, lake, older_than_s=older_than_s, lookback_days=lookback_days, now=NOW)
    return {r.media_id for r in found.reemit}


def test_only_media_without_result_or_dead_letter_are_stale(store: LocalStore, sink: Sink) -> None:
    done = syn.life(HOUR_AGO, counter=1)
    failed = syn.life(HOUR_AGO, status="failed", counter=2)
    dead = syn.uploaded(HOUR_AGO, counter=3)
    lost = syn.uploaded(HOUR_AGO, counter=4)  # never reached the broker
    half = syn.life(HOUR_AGO, counter=5)  # its upload reached the lake, its result did not
    for event in (done.uploaded, failed.uploaded, dead, lost, half.uploaded):
        accept(store, event)
    sink.put(done.uploaded, failed.uploaded, half.uploaded)
    sink.put(done.result, failed.result)
    sink.put(half.brand_check)
    sink.put(syn.dead_letter(HOUR_AGO, dead.media_id))

    found = plan(store, Lake(store), older_than_s=300, now=NOW)

    assert found.checked == 5
    assert [r.media_id for r in found.reemit] == [lost.media_id, half.uploaded.media_id]
    assert found.unrecoverable == () and found.stale == 2
    first = found.reemit[0]
    assert first.value == lost.to_bytes()  # the stored bytes, not a re-serialisation
    assert (first.topic, first.accepted_at) == (topics.MEDIA_UPLOADED, HOUR_AGO)


def test_the_topic_comes_from_the_stored_schema(store: LocalStore) -> None:
    gen, up = generated(HOUR_AGO, 1), syn.uploaded(HOUR_AGO, counter=2)
    accept(store, gen)
    accept(store, up)
    found = plan(store, Lake(store), older_than_s=300, now=NOW)
    assert {r.media_id: r.topic for r in found.reemit} == {
        gen.media_id: topics.MEDIA_GENERATED,
        up.media_id: topics.MEDIA_UPLOADED,
    }


def test_media_without_a_usable_event_record_are_reported_not_guessed(store: LocalStore) -> None:
    bare = syn.uploaded(HOUR_AGO, counter=1)
    accept(store, bare, record=False)
    garbled = syn.uploaded(HOUR_AGO, counter=2)
    accept(store, garbled)
    store.put_bytes(ledger.event_key(garbled.media_id), b'{"schema": "reelscope.media.uploaded/1"')
    other = syn.uploaded(HOUR_AGO, counter=3)
    accept(store, other)
    store.put_bytes(ledger.event_key(other.media_id), bare.to_bytes())  # names another media
    orphan = syn.uploaded(HOUR_AGO, counter=4)
    store.put_bytes(ledger.event_key(orphan.media_id), orphan.to_bytes())  # no media bytes

    found = plan(store, Lake(store), older_than_s=300, now=NOW)

    assert found.reemit == ()
    reasons = {u.media_id: u.reason for u in found.unrecoverable}
    assert reasons.keys() == {bare.media_id, garbled.media_id, other.media_id, orphan.media_id}
    assert reasons[bare.media_id].startswith("no event record")
    assert reasons[garbled.media_id].startswith("event record does not validate")
    assert reasons[other.media_id] == f"event record names media {bare.media_id}"
    assert reasons[orphan.media_id] == "event record without the media bytes"


def test_the_grace_period_and_the_look_back_bound_the_window(store: LocalStore) -> None:
    fresh = syn.uploaded(NOW - timedelta(seconds=60), counter=1)
    yesterday = syn.uploaded(NOW - timedelta(days=1), counter=2)
    last_week = syn.uploaded(NOW - timedelta(days=6, hours=23), counter=3)
    too_old = syn.uploaded(NOW - timedelta(days=7, minutes=1), counter=4)
    for event in (fresh, yesterday, last_week, too_old):
        accept(store, event)

    assert reemitted(store) == {yesterday.media_id, last_week.media_id}
    assert reemitted(store, older_than_s=0) == {
        fresh.media_id,
        yesterday.media_id,
        last_week.media_id,
    }
    assert reemitted(store, lookback_days=2) == {yesterday.media_id}
    assert reemitted(store, older_than_s=3 * 86400) == {last_week.media_id}


def test_other_objects_in_ledger_folders_are_ignored(store: LocalStore) -> None:
    up = syn.uploaded(HOUR_AGO, counter=1)
    accept(store, up)
    folder = keys.ledger_day_prefix(HOUR_AGO.date())
    store.put_bytes(folder + "notes.txt", b"x")
    store.put_bytes(folder + "not-a-uuid.event.json", b"{}")
    misplaced = syn.uploaded(HOUR_AGO - timedelta(days=1), counter=2)  # in the wrong day folder
    store.put_bytes(folder + str(misplaced.media_id), b"x")
    (store.root / folder / ".tmp-abc").write_bytes(b"partial")  # a write in progress

    found = plan(store, Lake(store), older_than_s=300, now=NOW)

    assert (found.checked, [r.media_id for r in found.reemit]) == (1, [up.media_id])
    assert [e.media_id for e in ledger.entries(store, HOUR_AGO.date())] == [up.media_id]


def test_an_empty_ledger_plans_nothing_without_reading_the_lake(store: LocalStore) -> None:
    (store.root / "lake/uploads/dt=2026-03-09").mkdir(parents=True)
    (store.root / "lake/uploads/dt=2026-03-09/broken.parquet").write_bytes(b"not parquet")
    found = plan(store, Lake(store), older_than_s=300, now=NOW)
    assert (found.checked, found.stale) == (0, 0)


def test_days_cover_the_window_in_utc() -> None:
    since = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
    assert days(since, datetime(2026, 3, 10, 0, 1, tzinfo=UTC)) == [
        date(2026, 3, 8),
        date(2026, 3, 9),
        date(2026, 3, 10),
    ]
    assert days(NOW, NOW - timedelta(days=1)) == []  # a grace period longer than the look-back


def test_event_key_sits_next_to_the_media() -> None:
    media_id = syn.uuid7_at(NOW)
    assert ledger.event_key(media_id) == f"media/2026/03/10/{media_id}.event.json"
    assert ledger.parse(ledger.event_key(media_id)) == (media_id, True)
    assert ledger.parse(media_key(media_id)) == (media_id, False)
    assert ledger.parse(f"media/2026/03/11/{media_id}") is None


def test_cooldown_holds_a_media_back_for_its_quiet_period() -> None:
    media_id = syn.uuid7_at(NOW)
    cool = Cooldown(quiet_s=3600)
    assert cool.due(media_id)
    cool.mark(media_id)
    assert not cool.due(media_id)
    assert Cooldown(quiet_s=0).due(media_id)
