"""The station daemon and its wiring: the one place that joins the drivers, the compiled core (through
`edge.scan` and `edge.limits`), the workflow, the journal and the link.

May import: everything in edge below it (`edge.link`, `edge.scan`, `edge.label`, `edge.limits`,
`edge.journal`, `edge.workflow`, `edge.common`) and `drivers`; never `edge.sim`, `edge.doctor`,
`edge.cli` or central.
"""
