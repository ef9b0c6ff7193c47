"""The shared runner: tasks pulled lazily, state built once per worker, every result handled."""

from __future__ import annotations

import functools
import os
import uuid

from facesafe._batch._runner import run_tasks


def _times(task: int, state) -> int:
    return task * state()


def _who(task: int, state) -> tuple[int, int, str]:
    return task * 2, os.getpid(), state()


def _new_state() -> str:
    return uuid.uuid4().hex


def _never(task: int, reason: str):
    raise AssertionError(f"task {task} failed: {reason}")


def test_in_this_process_each_task_is_pulled_started_and_handled_in_turn():
    events: list[str] = []

    def tasks():
        for i in range(3):
            events.append(f"pull {i}")
            yield i

    run_tasks(tasks(), _times, lambda task, result: events.append(f"handle {task}={result}"),
              setup=functools.partial(int, 10), failed=_never, before=lambda task: events.append(f"start {task}"))
    assert events == ["pull 0", "start 0", "handle 0=0", "pull 1", "start 1", "handle 1=10",
                      "pull 2", "start 2", "handle 2=20"]


def test_a_pool_handles_every_result_here_and_builds_state_once_per_worker():
    results: dict[int, tuple[int, int, str]] = {}
    run_tasks(range(12), _who, results.__setitem__, setup=_new_state, failed=_never, workers=2)
    assert sorted(results) == list(range(12)) and all(results[t][0] == 2 * t for t in results)
    states = {pid: {state for _, p, state in results.values() if p == pid} for _, pid, _ in results.values()}
    assert os.getpid() not in states and all(len(s) == 1 for s in states.values())
