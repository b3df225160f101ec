"""followers"""
