"""The derived tables of each subsystem, as data (see :mod:`fimiscope.store.registry`).

They live here, beside the store, so that opening a store (which checks every subsystem's
migrations) imports only these small modules and not the subsystems themselves (scipy,
igraph, sentence models...). Each subsystem re-exports its tables from its own ``schema``.
"""
