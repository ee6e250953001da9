# The llmbench plugin is registered through the `pytest11` entry point of the installed package
# (pip install -e .). Nothing else is needed here; shared fixtures for the benchmarks live in
# benchmarks/conftest.py.
