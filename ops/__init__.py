"""hiscrm: the operator program (up, down, scale, status, watch, login, demo).

A client of the master and of supervisord; not part of the server.
"""
