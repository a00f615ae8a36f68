"""The agents' prompt files as a data package, so a wheel ships them (see README.md here).

Nothing to import: `pipeline.prompting` finds this folder with importlib.resources.
"""
