"""The use cases: each opens what it needs (database, HTTP client), runs, and returns a result
for `render` to show. Nothing here prints.
"""
