"""ordebug"""
