"""Tools: analysis and maintenance commands outside the benchmark runtime path.

May import anything below it; only the command line (``llmbench.cli``) imports it, never the
pytest plugin or a suite.
"""
