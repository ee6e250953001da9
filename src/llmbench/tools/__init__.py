"""Tools: analysis and maintenance commands outside the benchmark runtime path.

May import anything below it; nothing imports ``llmbench.tools``.
"""
