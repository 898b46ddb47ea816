"""Wire contracts of reelscope: event models, their JSON Schema files and the lake's Arrow schemas.

Everything else imports from here; this package imports nothing of the project.
"""
