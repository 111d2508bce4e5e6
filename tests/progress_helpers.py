"""What a recorded run of ``body_models.progress`` reports must look like."""


def check_stages(calls: list[tuple], stages: list[str], totals: dict[str, int] | None = None) -> None:
    """``calls`` hold each of ``stages`` once, in order, each as one run of calls whose ``done``
    rises (never falls) to its ``total``."""
    order = []
    for stage, _, _ in calls:
        if not order or order[-1] != stage:
            order.append(stage)
    assert order == stages, f"stages reported {order}"
    for stage in stages:
        mine = [(done, total) for s, done, total in calls if s == stage]
        dones = [done for done, _ in mine]
        assert all(isinstance(d, int) for d in dones), f"{stage}: done must be an int, got {dones}"
        assert dones == sorted(dones), f"{stage}: done fell: {dones}"
        assert len({total for _, total in mine}) == 1, f"{stage}: total changed: {mine}"
        total = mine[0][1]
        assert dones[-1] == total, f"{stage}: ended at {dones[-1]} of {total}"
        if totals and stage in totals:
            assert total == totals[stage], f"{stage}: total {total}, expected {totals[stage]}"
