"""mxteach.widgets: views of modules, executors and training (ipywidgets, with static HTML)."""
