"""Containers against their images: lifecycle, live resource usage, snapshots.

Importing this package is cheap: docker-py is imported when a function first
talks to a daemon, ipywidgets and matplotlib only when a view is displayed.
"""
