"""Repository-level pytest configuration.

The pytest-foundry plugin itself is registered through its ``pytest11`` entry point
(``pip install -e .``); nothing here is needed for users of the plugin.
"""
