"""Surface inspection's images and data: every hostile image and folder is a named error before any training,
the embedded simulator writes a set the loader takes, splits keep held-out defect kinds out of training and
validation, and the autoencoder, latent flow and detectors run end to end on a few images."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest

from shopfloor.data.images import SIZE, decode, encode_png
from shopfloor.errors import DataError
from shopfloor.surface_inspection.data import load, split
from shopfloor.surface_inspection.simulate import simulate_surfaces


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (its data is one row): refused unread."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))  # noqa: E731
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def surfaces(tmp_path_factory):
    return simulate_surfaces(tmp_path_factory.mktemp("surfaces"), {"good": 12, "scratch": 6, "pit": 6}, seed=1)


def test_an_image_of_any_size_and_colour_becomes_64_by_64_gray_in_0_1():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 120), (200, 100, 50)).save(buffer, format="JPEG")
    image = decode(buffer.getvalue(), "photo.jpg")
    assert image.shape == (SIZE, SIZE) and image.dtype == np.float32 and 0 <= image.min() <= image.max() <= 1
    again = decode(encode_png(image), "again.png")
    assert np.abs(again - image).max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"part,force\n1,2\n", "not a readable image"),
        (_png_claiming(20_000, 20_000), "more than the 40,000,000 pixels an image may have"),
        (_png_claiming(8_000, 8_000), "is 8000 x 8000: more than the 40,000,000 pixels"),
        (b"\0" * (21 * 2**20), "more than the 20 MB"),
    ],
    ids=["empty", "not-an-image", "huge-header", "large-header", "huge-file"],
)
def test_a_hostile_image_is_a_named_error(data, message):
    with pytest.raises(DataError, match=message) as caught:
        decode(data, "parts/p7.png")
    assert caught.value.field == "parts/p7.png"


def test_a_truncated_image_is_a_named_error():
    whole = encode_png(np.random.default_rng(0).random((80, 80)))
    with pytest.raises(DataError, match="truncated or corrupt"):
        decode(whole[: len(whole) // 2], "cut.png")


def test_the_simulator_writes_a_set_the_loader_takes_masks_left_out(surfaces):
    data = load(surfaces)
    assert len(data) == 24 and data.kinds == ["pit", "scratch"] and data.defect.sum() == 12
    assert any(p.name.endswith("_mask.png") for p in (surfaces / "pit").iterdir())  # written, and not an image
    assert not any(p.endswith("_mask.png") for p in data.paths)


def test_a_folder_or_manifest_that_cannot_train_is_a_named_error(surfaces, tmp_path):
    with pytest.raises(DataError, match="no images of the good class 'ok'"):
        load(surfaces, good_class="ok")
    with pytest.raises(DataError, match="too few in pit \\(6\\), scratch \\(6\\)"):
        load(surfaces, min_images=10)
    one = tmp_path / "one" / "good"
    one.mkdir(parents=True)
    for i in range(6):
        (one / f"{i}.png").write_bytes(encode_png(np.full((70, 70), 0.5)))
    with pytest.raises(DataError, match="one class only"):
        load(tmp_path / "one")
    (one / "notes.png").write_bytes(b"not a picture")
    with pytest.raises(DataError, match="notes.png"):
        load(tmp_path / "one")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"path,label\n{surfaces / 'good' / 'good_0000.png'},good\nmissing.png,pit\n")
    with pytest.raises(DataError, match="1 file\\(s\\) named in the manifest do not exist: .*missing.png") as caught:
        load(manifest)
    assert caught.value.field == "manifest.csv: path"


def test_a_manifest_names_images_by_path_and_label(surfaces, tmp_path):
    rows = [f"{p},{p.parent.name}" for p in sorted(surfaces.glob("*/*.png")) if "_mask" not in p.name]
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + "\n".join(rows) + "\n")
    assert sorted(load(manifest).labels.tolist()) == sorted(load(surfaces).labels.tolist())


def test_a_held_out_defect_kind_is_in_the_test_images_alone(surfaces):
    train, valid, test = split(load(surfaces), seed=0, held_out=("pit",))
    assert "pit" not in set(train.labels) | set(valid.labels) and (test.labels == "pit").sum() == 6
    assert len(train) + len(valid) + len(test) == 24 and set(train.labels) == {"good", "scratch"}


def test_the_autoencoder_flow_and_detectors_run_end_to_end(surfaces):
    from shopfloor.surface_inspection import detect
    from shopfloor.surface_inspection import synthesis as syn

    data = load(surfaces)
    ae, flow = syn.AutoencoderConfig(filters=4, steps=5, batch_size=8), syn.FlowConfig(hidden=16, steps=5, copies=2)
    rows, latent = detect.compare(data.images[data.defect == 0], data.images, data.defect, ae, flow)
    assert [r.name for r in rows] == ["flow-nll", "ae-reconstruction", "texture-distance"]
    assert all(np.isfinite(r.score(data.images)).all() and 0 <= r.valid_auc <= 1 for r in rows)
    for use_flow in (latent.flow_, None):
        images = syn.sample(latent.autoencoder_, 3, use_flow, seed=0)
        assert images.shape == (3, SIZE, SIZE) and 0 <= images.min() <= images.max() <= 1


@pytest.fixture(scope="module")
def trained(surfaces, tmp_path_factory):
    """A classify-mode model trained in a few steps on the simulated surfaces and registered in a fresh store
    (the environment names that store only while registering: other tests share this worker)."""
    import os

    from shopfloor.surface_inspection import workflow as w

    home = tmp_path_factory.mktemp("surface-home")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    files = {
        k: str(home / f"{k}{ext}")
        for k, ext in (("splits", ".npz"), ("model", ".joblib"), ("report", ".json"), ("figure", ".png"))
    }
    summary = w.ingest_step(str(surfaces), files["splits"], min_images=5)
    info = w.train_step(
        files["splits"],
        model_path=files["model"],
        report_path=files["report"],
        figure_path=files["figure"],
        ae_steps=3,
        flow_steps=3,
        cnn_epochs=1,
        ae_filters=4,
    )
    before = {k: os.environ.get(k) for k in ("SHOPFLOOR_HOME", "MLFLOW_TRACKING_URI")}
    os.environ.update(SHOPFLOOR_HOME=str(home), MLFLOW_TRACKING_URI=uri)  # artifacts beside the store
    try:
        result = w.register_step(files["model"], files["report"], files["figure"], files["splits"], tracking_uri=uri)
    finally:
        for key, value in before.items():
            os.environ.pop(key) if value is None else os.environ.update({key: value})
    return {"uri": uri, "home": home, "summary": summary, "info": info, "result": result, "files": files}


@pytest.fixture
def registered(trained, monkeypatch):
    """The registered model's store and home in this test's environment."""
    monkeypatch.setenv("SHOPFLOOR_HOME", str(trained["home"]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    return trained


def test_a_run_compares_every_rival_on_validation_and_registers_the_best(registered):
    import json

    report = json.loads(open(registered["files"]["report"]).read())
    methods = [row["method"] for row in report["table"]]
    assert methods[:2] == ["cnn/class-weights", "cnn/augment"] and "hgb/texture" in methods
    assert any("+flow@" in m for m in methods) and any("+gaussian@" in m for m in methods)
    chosen = [row for row in report["table"] if row["chosen"]]
    assert len(chosen) == 1 and chosen[0]["valid_ap"] == max(row["valid_ap"] for row in report["table"])
    assert registered["result"]["version"] == 1 and registered["result"]["alias"] == "champion"
    assert sum(registered["summary"]["splits"]["test"].values()) > 0


def test_the_served_model_takes_base64_images_on_v1_and_bytes_on_v2(registered, surfaces):
    import base64

    from kserve.protocol.infer_type import InferInput

    from serving.model import RegistryModel

    served = RegistryModel(
        "surface-inspection", tracking_uri=registered["uri"], poll_seconds=0, quality_seconds=0, prediction_log=False
    )
    assert served.load()
    files = [surfaces / "scratch" / "scratch_0000.png", surfaces / "good" / "good_0001.png"]
    body = {"instances": [{"image": {"b64": base64.b64encode(f.read_bytes()).decode()}} for f in files]}
    _, answer = served.answer(body, v2=False)
    assert [set(p) for p in answer["predictions"]] == [{"defect", "defect_probability"}] * 2
    tensor = InferInput("image", [2], "BYTES", [f.read_bytes() for f in files])
    _, v2 = served.answer([tensor], v2=True)
    assert [o["name"] for o in v2["outputs"]] == ["defect", "defect_probability"]
    assert v2["outputs"][1]["data"] == pytest.approx([p["defect_probability"] for p in answer["predictions"]])
    for bad, field in ((b"not an image", "instances[0]"), (b"", "instances[0]")):
        with pytest.raises(DataError) as caught:
            served.answer({"instances": [{"image": {"b64": base64.b64encode(bad).decode()}}]}, v2=False)
        assert caught.value.field == field
    with pytest.raises(DataError, match="not valid base64"):
        served.answer({"instances": [{"image": {"b64": "%%%"}}]}, v2=False)
    # base64 wrapped in lines (``base64 FILE``) and base64 text as bytes (MLflow's binary columns) are the same image
    wrapped = base64.encodebytes(files[0].read_bytes())
    assert b"\n" in wrapped[:-1]
    for sent in (wrapped.decode(), wrapped):
        _, again = served.answer({"instances": [{"image": {"b64": sent} if isinstance(sent, str) else sent}]}, False)
        assert again["predictions"][0] == answer["predictions"][0]


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _declare(url: str, size: int) -> tuple[int, bytes]:
    """Headers announcing a body of ``size`` bytes, and the answer the server gives before any of it is sent."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    try:
        connection.putrequest("POST", where.path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_locust_sends_images_on_both_protocols_to_a_served_model(registered, tmp_path):
    """The image load profile against ``shopfloor serve`` over HTTP: every request answered; over HTTP too, a
    body over the server's limit is refused unread (413) and an image claiming 20,000 x 20,000 pixels is a named
    400, and the server answers on."""
    import base64

    from loadtest.run import local_server, run_locust
    from serving.fast import DEFAULT_MAX_BODY

    with local_server("surface-inspection") as url:  # the fixture's store and home are in the environment
        predict = f"{url}/v1/models/surface-inspection:predict"
        status, answer = _declare(predict, DEFAULT_MAX_BODY + 1)
        assert status == 413 and b"exceeds the limit" in answer
        claimed = base64.b64encode(_png_claiming(20_000, 20_000)).decode()
        status, answer = _post(predict, f'{{"instances": [{{"image": {{"b64": "{claimed}"}}}}]}}'.encode())
        assert status == 400 and b"instances[0]" in answer and b"40,000,000 pixels" in answer, answer
        result = run_locust(
            url,
            tmp_path / "locust",
            users=2,
            rate=5,
            duration="4s",
            processes=1,
            model="surface-inspection",
            profile="images",
            p95_ms=5000,
        )
    assert result.requests >= 10 and result.failures == 0
