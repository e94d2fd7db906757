"""`packstation simulate`: a whole pack day with central and a station running for real on
simulated devices (the scale, printer and scanner simulators beside their drivers).

May import: `edge.station` and everything below it, `drivers` (simulators included) and central;
never `edge.doctor` or `edge.cli`.
"""
