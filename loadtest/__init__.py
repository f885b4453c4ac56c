"""Locust load tests of the model server and the SLA check of their results."""
