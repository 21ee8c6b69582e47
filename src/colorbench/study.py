"""The study colorbench starts from, and the works it cites: one owner for their names and figures."""

# What the study published: one seed, 10 epochs on official CIFAR-10; its "average MSE" (ab units)
# came from 5 test images. Its "U-Net" code had no skip connections: that network is our unet_noskip.
STUDY = {
    "cnn": {"val_loss": 0.0093, "ab_mse": 138.58},
    "unet": {"val_loss": 0.0091, "ab_mse": 156.44},
}
# how it got them: what the report's prose says beside the figures above, and what "the full protocol" means
STUDY_PROTOCOL = {"data": "official CIFAR-10", "epochs": 10, "seeds": 1, "test_images": 5}
# which of our models answers for each of the study's: (label, study key, our model)
STUDY_MODELS = [("CNN", "cnn", "cnn"), ("U-Net (its code: no skips)", "unet", "unet_noskip"),
                ("U-Net (as described: with skips)", "unet", "unet")]

# The study's author, year and repository are not recorded anywhere colorbench's developers could
# reach (its text came to the project without them): they are left blank rather than guessed.
STUDY_CITATION = ('"Comparative Analysis of CNN and U-Net Models for Image Reconstruction", a student study '
                  "(author, year and public repository not recorded in this project; the protocol and figures "
                  "above are those it reports)")
ZHANG_2016 = ('Richard Zhang, Phillip Isola and Alexei A. Efros, "Colorful Image Colorization", European Conference '
              "on Computer Vision (ECCV), 2016, arXiv:1603.08511")
HASLER_2003 = ('David Hasler and Sabine Suesstrunk, "Measuring colourfulness in natural images", Proc. SPIE 5007, '
               "Human Vision and Electronic Imaging VIII, 2003")
SHARMA_2005 = ('Gaurav Sharma, Wencheng Wu and Edul N. Dalal, "The CIEDE2000 color-difference formula: '
               'implementation notes, supplementary test data, and mathematical observations", Color Research & '
               "Application 30(1), 2005")
WANG_2004 = ('Zhou Wang, Alan C. Bovik, Hamid R. Sheikh and Eero P. Simoncelli, "Image quality assessment: from '
             'error visibility to structural similarity", IEEE Transactions on Image Processing 13(4), 2004')
HOLM_1979 = 'Sture Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal of Statistics 6(2), 1979'
CITATIONS = [STUDY_CITATION, ZHANG_2016, HASLER_2003, SHARMA_2005, WANG_2004, HOLM_1979]
