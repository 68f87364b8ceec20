"""Small shared concerns, each in one module, used by every package of the project.

This package sits at the bottom of the dependency flow: it imports nothing of ``ordebug``,
``collectors``, ``converters``, ``recipes`` or ``eval``. See docs/foundations.md.
"""
