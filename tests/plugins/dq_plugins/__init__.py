"""Methods that live outside dq-review, loaded by import path (``module: dq_plugins.length``)."""
