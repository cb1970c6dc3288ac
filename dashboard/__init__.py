"""The dashboard: server-rendered pages for media buyers at /ui, served by `turnout api`.

It is a client of the admin and report APIs, called in process with the signed-in key
(client.py), so roles, validation, revisions, audit and every number are the API's.
"""
