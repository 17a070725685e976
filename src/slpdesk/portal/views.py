from django.http import HttpResponse


def home(request):
    return HttpResponse("portal")


cases = new_case = home
