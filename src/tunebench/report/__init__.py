"""Results of a study: the one table builder (`table`) and its renderers — terminal, Markdown,
LaTeX, HTML with plots — the paired bootstrap (`stats`), exports (`exports`) and the report
files (`write`)."""
