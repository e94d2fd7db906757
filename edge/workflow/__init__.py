"""The pack workflow: a pure state machine `(state, input, now) -> (state, effects)`, its value
types and the decision ports it is handed (verifier, limit checker, weigh rule, central state).

May import: `edge.common`. No I/O, no drivers, no compiled core: every outside fact arrives
through a port.
"""
