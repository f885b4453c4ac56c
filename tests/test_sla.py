from loadtest.sla import check

HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%\n"
)


def _stats(tmp_path, p95, failures):
    path = tmp_path / "s.csv"
    path.write_text(HEADER + f",Aggregated,1000,{failures},4,5,1,90,100,199.5,0,4,5,5,6,8,{p95},20,30,50,80,90\n")
    return path


def test_sla_pass_and_fail(tmp_path):
    ok = check(_stats(tmp_path, 12, 0))
    assert ok.passed and ok.p95_ms == 12 and ok.rps == 199.5
    assert not check(_stats(tmp_path, 60, 0)).passed  # p95 over 56 ms
    slow_ok = check(_stats(tmp_path, 60, 0), p95_ms=100)
    assert slow_ok.passed
    failing = check(_stats(tmp_path, 12, 1))
    assert not failing.passed and failing.error_rate == 0.001
    assert "FAIL" in failing.summary()


def test_offered_against_achieved_and_a_saturated_generator(tmp_path):
    stats = _stats(tmp_path, 12, 0)  # 199.5 requests/s achieved
    held = check(stats, offered_rps=200, generator_cpu=40)
    assert held.passed and not held.generator_saturated
    short = check(stats, offered_rps=400, generator_cpu=55)  # the server fell behind: its failure
    assert not short.passed and not short.generator_saturated and short.verdict() == "FAIL"
    busy = check(stats, offered_rps=400, generator_cpu=99)  # Locust itself at a full core: not the server's
    assert busy.generator_saturated and busy.verdict().startswith("INCONCLUSIVE")
    assert "the generator, not the server, limited this run" in busy.summary()
    assert busy.to_dict()["generator_saturated"] is True
