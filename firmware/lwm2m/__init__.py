"""LwM2M 1.1 client: data model, content formats, registration/bootstrap/device-management/observe/send engines."""
