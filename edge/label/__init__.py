"""The exit label and the discrepancy slip: content, the inputs they are made from, the 58/80 mm
layouts, print job ids and PNG previews.

May import: `edge.workflow`, `edge.common`, `drivers.printer` (document model and encoder).
"""
