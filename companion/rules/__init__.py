"""The rules file (schema, values, template, themes), the speech gate and the speech policy."""
