"""HTTP routes: thin functions over ``webapp.services`` (each module exposes ``router``)."""
