"""Test SM-DP+ (ES9+ in the ASN.1 binding) for the SGP.32 indirect profile download path."""
