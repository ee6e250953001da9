# The llmbench plugin is registered through the `pytest11` entry point of the installed package
# (pip install -e . or the wheel), so nothing is needed here; this file marks the project root
# for pytest (rootdir), and with it where `baselines/` and `.llmbench/` are found.
