"""Walled-off uses of other projects' Python APIs (DNF4, libdnf5, koji, rpkg).

Each foreign package is imported in exactly one module here, so an API change in
one of them touches one file and the rest of stream-build never imports them.
"""
