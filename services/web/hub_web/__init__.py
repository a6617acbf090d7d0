"""The hub's web app: server-rendered pages for link workers, coordinators and referrers.

A Backend-for-Frontend with no database of its own: every page is built from the router's and
the notifier's HTTP APIs (and intake's, to resubmit), called with the signed-in person's own
token, so each API's access rules are the only ones that apply.
"""
