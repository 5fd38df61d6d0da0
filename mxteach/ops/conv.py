"""(operators of this family are being written)"""
