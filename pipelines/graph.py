"""Cycles in a stage graph: strongly connected components, then the cycles inside each.

The graph is given as successor lists over stage indexes (``succ[i]`` are the stages that
depend on stage ``i``). Searching is bounded, so a tangled graph cannot take long.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final

MAX_CYCLES_REPORTED: Final = 20
CYCLE_SEARCH_STEPS: Final = 100_000


def cycles(succ: Sequence[Sequence[int]]) -> list[list[int]]:
    """Elementary cycles, each once, written from its earliest stage; earliest cycles first."""
    found: list[list[int]] = []
    budget = CYCLE_SEARCH_STEPS
    for component in tangles(succ):
        cycles, budget = cycles_within(succ, set(component), budget, MAX_CYCLES_REPORTED - len(found))
        found.extend(cycles or [shortest_cycle(succ, min(component), set(component))])
        if len(found) >= MAX_CYCLES_REPORTED:
            break
    return sorted(found)[:MAX_CYCLES_REPORTED]


def cycles_within(
    succ: Sequence[Sequence[int]], members: set[int], budget: int, limit: int
) -> tuple[list[list[int]], int]:
    """Cycles inside one strongly connected set, from each start through later stages only."""
    cycles: list[list[int]] = []
    for start in sorted(members):
        path, on_path, branches = [start], {start}, [iter(succ[start])]
        while branches and budget > 0 and len(cycles) < limit:
            budget -= 1
            target = next(branches[-1], None)
            if target is None:
                branches.pop()
                on_path.discard(path.pop())
            elif target == start:
                cycles.append(list(path))
            elif target > start and target in members and target not in on_path:
                path.append(target)
                on_path.add(target)
                branches.append(iter(succ[target]))
    return cycles, budget


def shortest_cycle(succ: Sequence[Sequence[int]], start: int, members: set[int]) -> list[int]:
    parent = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in succ[node]:
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if target in members and target not in parent:
                parent[target] = node
                queue.append(target)
    return [start]


def tangles(succ: Sequence[Sequence[int]]) -> list[list[int]]:
    """Strongly connected sets of two or more stages (Tarjan's algorithm, without recursion)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    tangles: list[list[int]] = []
    for root in range(len(succ)):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, edge = work.pop()
            if edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            else:  # back from the child reached through edge - 1
                low[node] = min(low[node], low[succ[node][edge - 1]])
            for k in range(edge, len(succ[node])):
                target = succ[node][k]
                if target not in index:
                    work += [(node, k + 1), (target, 0)]
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    component = pop_component(stack, on_stack, node)
                    if len(component) > 1:
                        tangles.append(component)
    return tangles


def pop_component(stack: list[int], on_stack: set[int], root: int) -> list[int]:
    component: list[int] = []
    while not component or component[-1] != root:
        component.append(stack.pop())
        on_stack.discard(component[-1])
    return component
