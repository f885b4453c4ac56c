import pytest
from kfp.components import load_component_from_file

from pipelines.catalog import PIPELINES
from pipelines.compile import compile_pipeline, documents, images
from shopfloor.constants import DATA_MOUNT, DATA_VOLUME, DEFAULT_FILTER, DEFAULT_OBJECTIVE


def test_every_pipeline_compiles_and_loads_back(tmp_path):
    for name in PIPELINES:
        path = compile_pipeline(name, out=tmp_path / f"{name}.yaml", image="registry.example/shopfloor:9")
        loaded = load_component_from_file(str(path))
        assert loaded.name == name.replace("-", "_") or loaded.name == name
        assert images(path) == {"registry.example/shopfloor:9"}
        spec, platform = documents(path)
        commands = [" ".join(e["container"]["command"]) for e in spec["deploymentSpec"]["executors"].values()]
        assert all("pip install" not in c for c in commands)  # the image already holds everything
        # every step sees the profile's shared data volume, where a run's data_path points on the cluster
        mounts = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        assert set(mounts) == set(spec["deploymentSpec"]["executors"])
        for executor in mounts.values():
            (mount,) = executor["pvcMount"]
            assert mount["mountPath"] == DATA_MOUNT
            assert mount["pvcNameParameter"]["runtimeValue"]["constant"] == DATA_VOLUME


def pipeline_tasks(spec: dict, name: str) -> dict:
    """The tasks of the pipeline's own DAG, inside the exit handler of its compiled form."""
    handler = spec["root"]["dag"]["tasks"]["exit-handler-1"]["componentRef"]["name"]
    inner = spec["components"][handler]["dag"]["tasks"][name]["componentRef"]["name"]
    return spec["components"][inner]["dag"]["tasks"]


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_every_compiled_pipeline_ends_with_an_exit_step_that_records_its_outcome(tmp_path, name):
    spec, _ = documents(compile_pipeline(name, out=tmp_path / f"{name}.yaml"))
    root = spec["root"]["dag"]["tasks"]
    assert set(root) == {"exit-handler-1", "record-run-outcome"}
    exit_step = root["record-run-outcome"]
    assert exit_step["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"  # runs on failure too
    assert exit_step["dependentTasks"] == ["exit-handler-1"]
    assert exit_step["inputs"]["parameters"]["pipeline_name"]["runtimeValue"]["constant"] == name
    assert pipeline_tasks(spec, name)  # the pipeline's own steps, unchanged inside


def test_fault_detection_fans_out_over_the_chosen_synthesizers(tmp_path):
    """One ParallelFor branch per chosen synthesizer, collected into training and registration; deploy only
    when asked for and only for a new champion (KFP conditions, no skip flags in the components)."""
    spec, _ = documents(compile_pipeline("fault-detection", out=tmp_path / "fd.yaml"))
    tasks = pipeline_tasks(spec, "fault-detection")
    loops = [t for t in tasks.values() if "parameterIterator" in t]
    assert len(loops) == 2

    def source(loop: dict) -> dict:
        """Where the loop's items come from: a pipeline input or a task's output."""
        name = loop["parameterIterator"]["items"]["inputParameter"]
        return loop["inputs"]["parameters"][name]

    workers = next(
        lo
        for lo in loops
        if source(lo).get("taskOutputParameter", {}).get("producerTask") == "fault-detection-tuning-plan"
    )
    loop = next(lo for lo in loops if source(lo).get("componentInputParameter") == "synthesizers")
    # the tuning workers: one branch per synthesizer and worker, gathered before the synthesizers' branches
    assert {
        t["taskInfo"]["name"] for t in spec["components"][workers["componentRef"]["name"]]["dag"]["tasks"].values()
    } == {"tune"}
    gathered = tasks["fault-detection-gather"]["inputs"]["artifacts"]["studies"]["taskOutputArtifact"]
    assert gathered["producerTask"] == workers["componentRef"]["name"].removeprefix("comp-")
    assert spec["root"]["inputDefinitions"]["parameters"]["tuning_workers"]["defaultValue"] == 1
    assert "fault-detection-gather" in loop["dependentTasks"]
    body = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert {t["taskInfo"]["name"] for t in body.values()} == {"synthesize", "filter"}
    assert body["fault-detection-filter"]["dependentTasks"] == ["fault-detection-synthesize"]
    train = tasks["fault-detection-train"]["inputs"]["artifacts"]["synthetic"]["taskOutputArtifact"]
    assert train["producerTask"] == loop["componentRef"]["name"].removeprefix("comp-")
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["synthesizers"]["defaultValue"] == ["wgan"]
    assert params["filter_method"]["defaultValue"] == DEFAULT_FILTER
    assert params["objective"]["defaultValue"] == DEFAULT_OBJECTIVE
    conditions = [t for t in tasks.values() if "triggerPolicy" in t]
    assert len(conditions) == 1 and "deploy_target" in conditions[0]["triggerPolicy"]["condition"]
    inner = spec["components"][conditions[0]["componentRef"]["name"]]["dag"]["tasks"]
    nested = next(t for t in inner.values() if "triggerPolicy" in t)
    assert "alias" in nested["triggerPolicy"]["condition"] and "'champion'" in nested["triggerPolicy"]["condition"]
