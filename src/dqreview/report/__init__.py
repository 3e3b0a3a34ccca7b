"""Tables, figures and statistics over the workflow's outputs."""
