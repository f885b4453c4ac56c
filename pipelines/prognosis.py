"""Prognosis DAG: simulate the prior -> train the conditional flow + GRU -> evaluate on measured (or simulated)
wear curves with Russell and Wang's Figs. 9-10 -> register -> deploy (when asked for, and only a new champion)."""

from kfp import dsl

from components.prognosis import prognosis_evaluate, prognosis_register, prognosis_simulate, prognosis_train
from pipelines.deploy import finish
from shopfloor.constants import NAMESPACE, PROGNOSIS_MODEL, SERVE_PORTS
from shopfloor.defaults import PROGNOSIS


@dsl.pipeline(
    name="prognosis",
    description="Forecast tool wear and the cuts left to a wear limit, with their uncertainty, by "
    "amortized inference: a conditional normalizing flow trained on simulations of Eq. 20.",
)
def prognosis(
    tracking_uri: str,
    data_path: str = "",
    case: str = PROGNOSIS.case,
    wear: str = PROGNOSIS.wear,
    cut: str = "",
    valid_cases: list = [],
    test_cases: list = [],
    observed: int = PROGNOSIS.observed,
    vb_limit: float = PROGNOSIS.vb_limit,
    horizon: int = PROGNOSIS.horizon,
    n_train: int = PROGNOSIS.n_train,
    n_valid: int = PROGNOSIS.n_valid,
    prior_scale: float = PROGNOSIS.prior_scale,
    epochs: int = PROGNOSIS.epochs,
    patience: int = PROGNOSIS.patience,
    lr: float = PROGNOSIS.lr,
    gru_layers: int = PROGNOSIS.gru_layers,
    context: int = PROGNOSIS.context,
    blocks: int = PROGNOSIS.blocks,
    hidden: int = PROGNOSIS.hidden,
    model_name: str = PROGNOSIS_MODEL,
    deploy_target: str = "none",
    serve_port: int = SERVE_PORTS["prognosis"],
    namespace: str = NAMESPACE,
    image: str = "",
    seed: int = PROGNOSIS.seed,
) -> str:
    sims = prognosis_simulate(n_train=n_train, n_valid=n_valid, prior_scale=prior_scale, seed=seed)
    sims.set_display_name("simulate: Eq. 20 under the prior")
    fit = prognosis_train(
        simulations=sims.outputs["simulations"],
        epochs=epochs,
        patience=patience,
        lr=lr,
        gru_layers=gru_layers,
        context=context,
        blocks=blocks,
        hidden=hidden,
        seed=seed,
    )
    fit.set_display_name("train: conditional RealNVP + GRU")
    ev = prognosis_evaluate(
        model=fit.outputs["model"],
        data_path=data_path,
        case=case,
        wear=wear,
        cut=cut,
        valid_cases=valid_cases,
        test_cases=test_cases,
        observed=observed,
        vb_limit=vb_limit,
        seed=seed,
    )
    ev.set_display_name("evaluate: RMSE, coverage, Figs. 9-10")
    reg = prognosis_register(
        model=fit.outputs["model"],
        report=ev.outputs["report"],
        plots=ev.outputs["plots"],
        table=ev.outputs["table"],
        history=fit.outputs["history"],
        tracking_uri=tracking_uri,
        model_name=model_name,
        horizon=horizon,
        vb_limit=vb_limit,
    )
    reg.set_display_name("register: MLflow")
    return finish(
        [sims, fit, ev, reg],
        reg,
        target=deploy_target,
        port=serve_port,
        namespace=namespace,
        image=image,
        tracking_uri=tracking_uri,
    )
