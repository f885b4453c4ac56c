"""Tool-wear anomaly detection on milling signals (Hahn's beta-VAE on the UC Berkeley milling data).

``data``: cuts from NASA's ``mill.mat`` layout or a table with a cut column, checked (corrupt cuts dropped
and named), cut into sub-cuts, split and min-max scaled on training cuts only. ``vae``: the beta-VAE with
a temporal convolutional (or plain dilated) encoder and decoder. ``detector``: scaler, VAE(s) and the
decision threshold as one estimator with latent-space (KL divergence) and input-space (reconstruction
MSE) scores. ``search``: Optuna's random search over von Hahn and Mechefske's hyperparameters, judged by validation
PR-AUC. ``evaluate`` and ``plots``: von Hahn and Mechefske's metrics and figures. ``simulate``: the embedded default.
"""
