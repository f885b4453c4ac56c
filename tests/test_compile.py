import yaml
from kfp.components import load_component_from_file

from pipelines.compile import compile_pipeline, images
from pipelines.registry import PIPELINES


def test_every_pipeline_compiles_and_loads_back(tmp_path):
    for name in PIPELINES:
        path = compile_pipeline(name, out=tmp_path / f"{name}.yaml", image="registry.example/shopfloor:9")
        loaded = load_component_from_file(str(path))
        assert loaded.name == name.replace("-", "_") or loaded.name == name
        assert images(path) == {"registry.example/shopfloor:9"}
        spec = yaml.safe_load(path.read_text())
        commands = [" ".join(e["container"]["command"]) for e in spec["deploymentSpec"]["executors"].values()]
        assert all("pip install" not in c for c in commands)  # the image already holds everything


def test_fault_detection_has_three_parallel_synthesizer_branches(tmp_path):
    spec = yaml.safe_load(compile_pipeline("fault-detection", out=tmp_path / "fd.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    names = {t["taskInfo"]["name"]: key for key, t in tasks.items()}
    for branch in ("wgan", "ctgan", "flow"):
        synth, filt = names[f"synthesize: {branch}"], names[f"filter: {branch}"]
        assert tasks[synth]["dependentTasks"] == ["ingest"]  # branches depend on ingest only: parallel
        assert set(tasks[filt]["dependentTasks"]) == {"ingest", synth}
        assert filt in tasks[names["train: classifiers"]]["dependentTasks"]
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["synthesizer"]["defaultValue"] == "wgan" and params["filter_method"]["defaultValue"] == "kmeans"
