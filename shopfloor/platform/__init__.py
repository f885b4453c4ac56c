"""Platform plumbing every workflow shares: CPUs and threads, locks, fail points, failure records, container
hardening, the MLflow server, deployment, networking and processes."""
