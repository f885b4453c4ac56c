"""What happens after deployment: every served answer kept, real outcomes taken back, live quality measured.

``prediction_log`` writes each answered row to Parquet in the background (``PredictionLog``); ``outcomes``
stores the truth users feed back (a label, a failure time, a measured wear) beside it, append-only;
``store`` reads both (one layout on one machine and on the cluster's data volume); ``live_quality`` joins them
and scores each served version with the metric its kind is registered with.
"""
