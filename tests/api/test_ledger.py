"""The ledger keeps the accepted event next to the media, so a reconciler can publish it again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from api import idempotency
from processors import ledger
from processors.keys import media_key
from processors.storage import LocalStore
from schemas.ids import uuid7
from schemas.topics import MEDIA_GENERATED, MEDIA_UPLOADED
from streams.broker import EmbeddedBroker
from tests.api.conftest import (
    Api,
    create_brand,
    events_for,
    make_settings,
    media_id_of,
    running_api,
    upload,
)


async def test_the_published_event_is_stored_next_to_the_media(api: Api, image: Path) -> None:
    with api.client() as client:
        create_brand(client, "ledger-brand")
        data = {"brand_id": "ledger-brand", "platforms": "tiktok", "labels": '{"team": "a"}'}
        media_id = media_id_of(upload(client, image, data=data))
    record = api.store.get_bytes(ledger.event_key(media_id))
    events = await events_for(api.settings.kafka.bootstrap, MEDIA_UPLOADED, str(media_id))
    assert events == [json.loads(record)]
    assert (events[0]["brand_id"], events[0]["platforms"]) == ("ledger-brand", ["tiktok"])
    assert ledger.event_key(media_id) == media_key(media_id) + ".event.json"


async def test_a_generation_keeps_its_generated_event(api: Api, image: Path) -> None:
    api.store.put_file("generated/ledger/still.png", image)
    with api.client() as client:
        response = client.post(
            "/v1/generations",
            json={
                "object_key": "generated/ledger/still.png",
                "generation": {"prompt": "a can", "model": "m", "seed": 3},
            },
        )
    media_id = media_id_of(response)
    record = json.loads(api.store.get_bytes(ledger.event_key(media_id)))
    events = await events_for(api.settings.kafka.bootstrap, MEDIA_GENERATED, str(media_id))
    assert events == [record]
    assert record["schema"] == "reelscope.media.generated/1"
    assert record["generation"]["seed"] == 3


async def test_a_failed_event_record_is_503_and_nothing_is_published(
    broker: EmbeddedBroker, tmp_path: Path, image: Path
) -> None:
    store = LocalStore(tmp_path / "bucket")
    # an Idempotency-Key record names the media id in advance, so its event key can be blocked
    media_id = uuid7()
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    record_key = idempotency.record_key("all", "ledger-k1")
    await idempotency.save(
        store, record_key, idempotency.IdempotencyRecord(media_id=media_id, sha256=digest)
    )
    blocker = store.root / ledger.event_key(media_id)
    blocker.mkdir(parents=True)  # a folder where the record goes: the write fails
    settings = make_settings(broker.bootstrap, store.url)
    headers = {"Idempotency-Key": "ledger-k1"}
    with running_api(settings, store, tmp_path / "uploads") as running:
        with running.client() as client:
            refused = upload(client, image, headers=headers)
            published = await events_for(broker.bootstrap, MEDIA_UPLOADED, str(media_id))
            blocker.rmdir()
            retried = upload(client, image, headers=headers)
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert store.exists(media_key(media_id))  # the bytes came first and stay in the ledger
    assert published == []
    assert media_id_of(retried) == media_id
    events = await events_for(broker.bootstrap, MEDIA_UPLOADED, str(media_id))
    assert events == [json.loads(store.get_bytes(ledger.event_key(media_id)))]
