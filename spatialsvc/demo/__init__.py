"""Generated demo geography of Haishu District, Ningbo (330203)."""
