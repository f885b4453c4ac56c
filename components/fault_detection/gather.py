"""Component: the tuning workers' studies and reports, gathered into one artifact for the synthesize steps."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fault_detection_gather(studies: Input[list[Artifact]], gathered: Output[Artifact]):
    from shopfloor.synth.studies import gather_studies as gather

    gathered.metadata.update(gather([s.path for s in studies], gathered.path))
