"""Scripts that execute the book's notebooks (papermill) and build the book (Jupyter Book 1)."""
